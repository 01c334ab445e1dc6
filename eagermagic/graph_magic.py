"""The `%%graph` cell magic (work in progress)."""
from IPython.core.magic import Magics, magics_class


@magics_class
class GraphMagics(Magics):
    """Placeholder: `%%graph` is being built."""
