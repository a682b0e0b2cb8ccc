"""Pretraining objectives: causal LM, fill-in-the-middle, masked LM (conf/objective/*.yaml).

``objective.Objective`` turns the loader's packed rows into (inputs, targets) and says which attention
the model uses; ``fim`` and ``mlm`` hold the pure row transforms; ``train.infill`` writes middles with a
FIM-trained checkpoint. Kept import-light: train.config imports ``objectives.config`` before torch.
"""
