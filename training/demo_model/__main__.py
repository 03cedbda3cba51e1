"""``python -m training.demo_model``: train the demo ViT (see :mod:`.train`)."""

from training.demo_model.train import main

main()
