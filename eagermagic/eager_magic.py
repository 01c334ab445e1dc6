"""The `%%eager` cell magic (work in progress)."""
from IPython.core.magic import Magics, magics_class


@magics_class
class EagerMagics(Magics):
    pass
