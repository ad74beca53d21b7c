"""DynamicNER data: taxonomy, GEIC reader, tokens and BIO tags, dynamic type lists, export."""

__version__ = "0.1.0"

__all__ = ["__version__"]
