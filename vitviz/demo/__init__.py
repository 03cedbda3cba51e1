"""The bundled demo model's world: procedurally generated shape images, its training and
its quality bars.

``shapes`` (geometry of the ten classes), ``backgrounds`` (clutter), ``dataset`` (seeded
samples with masks), ``quality`` (the metrics, with the app's own analysis) and ``train``
(``python -m vitviz.demo.train`` reproduces ``resources/models/demo_vit.safetensors``).
"""
