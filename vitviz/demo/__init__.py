"""The bundled demo model's world: procedurally generated shape images.

``shapes`` (geometry of the ten classes), ``backgrounds`` (clutter) and ``dataset``
(seeded samples with masks), which the app's sample images come from. The demo model is
trained by ``python -m training.demo_model`` (outside the package).
"""
