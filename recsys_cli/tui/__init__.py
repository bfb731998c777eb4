"""``recsys tui``: a keyboard-first Textual explorer over the served bundle (also in a browser).

Screens (``screens/``, one per module, each with its ``.tcss``): shoppers,
shopper detail, catalog, product detail, cold-start playground, metrics,
experiments. Widgets in ``widgets/``. The app calls the same in-process
:class:`~recsys_cli.service.RecommenderService` as ``recsys serve``; there is
no model code here.
"""
