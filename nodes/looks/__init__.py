"""The Looks that ship with nodegraph (``*.look.json``), found through the ``nodegraph.looks``
entry point; ``assets/looks/make_looks.py`` makes them."""
