"""The domain error tree.

    GridchargeError               anything gridcharge raises on purpose
    ├── SiteDefinitionError       a site file or limit tree that cannot describe a real site
    └── SnapshotError             a snapshot whose parts do not fit together (unknown gun or node)

Validation of single fields is left to pydantic (`ValidationError` names the field); these errors
are for facts that span several fields.
"""


class GridchargeError(Exception):
    """Base of every error gridcharge raises on purpose."""


class SiteDefinitionError(GridchargeError):
    """The site's limit tree is inconsistent (duplicate ids, a gun in two places, ...)."""


class SnapshotError(GridchargeError):
    """A snapshot refers to a gun or node its site does not have."""
