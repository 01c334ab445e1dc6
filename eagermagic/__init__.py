"""eagermagic: `%load_ext eagermagic` gives the `%%eager` and `%%graph` cell magics.

Importing this package does nothing else; the magics are registered by the extension hook.
"""

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    from .cell_labels import label_cells
    from .eager_magic import EagerMagics
    from .graph_magic import GraphMagics
    ipython.register_magics(EagerMagics)
    ipython.register_magics(GraphMagics)
    label_cells(ipython)


def unload_ipython_extension(ipython):
    from .cell_labels import unlabel_cells
    for name in ("eager", "graph"):
        ipython.magics_manager.magics["cell"].pop(name, None)
    unlabel_cells(ipython)
