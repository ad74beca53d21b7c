# Copyright 2026 The DynamicNER kit authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""DynamicNER as a Hugging Face ``datasets`` builder: 8 languages x 4 granularities.

This file is what users and datasets 3.x load
(``load_dataset("path/to/dynamicner.py", "de", trust_remote_code=True)``); it only exposes the
builder, which lives in :mod:`dynamicner_data.builder` (configs, sources, :func:`prepare`).
On datasets 5.x, prepare a config with ``dynamicner prepare de`` or :func:`prepare`, then
``datasets.load_dataset("dynamicner", "de")`` finds it offline.

>>> configs = {config.name: config for config in DynamicNER.BUILDER_CONFIGS}
>>> len(configs), configs["de-coarse"].language, configs["de-coarse"].granularity
(36, 'de', 'coarse')
"""

from dynamicner_data.builder import DynamicNER, DynamicNERConfig, builder_hash, config_name, prepare

__all__ = ["DynamicNER", "DynamicNERConfig", "builder_hash", "config_name", "prepare"]
