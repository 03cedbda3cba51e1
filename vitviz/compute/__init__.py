"""Pure analysis functions on tensors and arrays: no Qt, no application state.

One idea per module, imported by name: this package imports nothing, so that
``import vitviz.compute.render`` does not pull in torch. ``analysis`` bundles what the
GUI's worker derives from one forward pass, with the cheap per-query reads of the panels.
"""
