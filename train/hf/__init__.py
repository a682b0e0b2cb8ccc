"""Hugging Face model folders in: continued pretraining from them (``model.init_from``), and loading them
(our exports or any supported model) wherever a checkpoint is loaded. ``train.export`` writes them."""
