"""Pure analysis functions on tensors and arrays: no Qt, no application state.

One idea per module, imported by name: this package imports nothing, so that
``import vitviz.compute.render`` does not pull in torch.
"""
