"""A Sphinx extension for the book's one-page HTML build (the route to the PDF, ``make pdf``).

myst-nb registers its folded-input node (``HideCodeCellNode``, the ``hide-input`` cells) for
the ``html`` builder only, so Sphinx's ``singlehtml`` builder stops at the first folded cell
("unknown node type"). This registers myst-nb's own visitors for ``singlehtml`` as well; it
changes nothing in the HTML book.
"""

from __future__ import annotations


def setup(app):
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput, visit_HideCellInput

    app.add_node(HideCodeCellNode, override=True, html=(visit_HideCellInput, depart_HideCellInput),
                 singlehtml=(visit_HideCellInput, depart_HideCellInput))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
