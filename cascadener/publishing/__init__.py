"""Publishing: the versioned results JSON (:mod:`~cascadener.publishing.results`), the Hub
(:mod:`~cascadener.publishing.hub`: eval results, model cards, the results dataset) and the
leaderboard (:mod:`~cascadener.publishing.leaderboard`, rendered by
:mod:`~cascadener.publishing.leaderboard_formats`)."""
