"""Pretraining objectives: causal LM, fill-in-the-middle, masked LM (conf/objective/*.yaml).

``objective.Objective`` turns the loader's packed rows into (inputs, targets), computes the step loss and
says which attention the model uses; ``fim`` and ``mlm`` hold the pure row transforms (seeded by
``seeding``); ``build`` makes a run's objective from its config and tokenizer; ``evaluation`` scores an
MLM checkpoint; ``train.infill`` writes middles with a FIM-trained checkpoint. Kept import-light: train.config imports ``objectives.config`` before torch.
"""
