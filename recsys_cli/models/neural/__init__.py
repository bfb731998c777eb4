"""Deep (torch) recommenders: NeuMF, Mult-VAE/DAE, Wide & Deep, two-tower.

Each model is one file with the same interface as every other recsys model
(``recsys_cli.models.base.Recommender``). What they share lives next to them:

- ``loop.py``: device choice, seeding, the mini-batch loop with early stopping
  on valid NDCG@10;
- ``sampling.py``: negatives that are not the user's positives;
- ``sparse.py``: sparse side/text features as bags of weighted columns;
- ``scoring.py``: scoring every user x item pair through an MLP in chunks;
- ``crosses.py``: Wide & Deep's user context, feature crosses and history crosses;
- ``weights.py``: a network's state dict to and from the model directory
  (npz + manifest with checksums, never a pickle).

torch is an optional dependency (the ``deep`` extra); importing this package
does not import it, the model modules do.
"""
