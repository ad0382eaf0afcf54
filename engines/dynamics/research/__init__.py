"""Research code of ``engines.dynamics``: the 4D corpus (timing from published facial-action
dynamics, per-subject style), the PCA of its deformations, training, the classifier and the
evaluation, the pictures. The server never imports it (``engines.dynamics`` does not either).
"""
