"""The self-feedback loop (``launch job=loop``): driver, steps, ledger, markers, early stop, report, Slurm chain.

Round state machine (D = loop.dir, R = round; launch.loop.driver runs it locally, launch.loop.slurm_chain
as one Slurm job per step):
  round 0:   train → evaluate → memorize → decide           (real data only)
  round R≥1: synthesize → train → evaluate → memorize → decide
  synthesize  one data_prep run (source=synthetic + pipeline=synthetic; generation then filtering, both
            resumable): in: the newest checkpoint (round R-1's train marker), the real dataset (dedup,
            ppl band calibration, discriminator). out: D/round_R/synthetic/ — a Contract-2 dataset whose
            documents are all synthetic=true with provenance (checkpoint, step, weights hash, sampling,
            round, prompt id); its manifest holds kept docs, rejections by stage/reason and the
            discriminator's held-out accuracy (marker payload: path, train tokens, kept, rejected, accuracy)
  train     in: D/run/ (one run continued, max_steps = (R+1)·S; loop.train=scratch → D/round_R/run/, S
            steps), data.mix = real (name "real") + synthetic_r1..R (accumulate) or synthetic_rR (replace,
            with data.allow_dropped_datasets) by launch.loop.mix, capped by data.max_synthetic_share which
            training re-checks from the manifests. out: the checkpoint at the round's step; the marker
            records its path, the mix and its synthetic share
  evaluate  python -m train.loop_eval: real val bpb (+ loop.eval_text_files), collapse monitor on fixed
            prompts (the first real val samples) and seed → D/round_R/eval.json
  memorize  python -m train.memorization on the real dataset → D/round_R/memorization.json
  decide    in-process: writes round R into D/loop.json (replace-or-append, so a rerun gives the same
            file), runs launch.loop.stopping, redraws D/loop_report.html, logs W&B (one run per loop,
            group loop-<id>, axis = round); on Slurm it then submits round R+1's chain
Markers: D/round_R/<step>.done (JSON payload), written atomically only after the step's outputs are
complete. The driver runs the first step without a marker; every step is itself resumable, so a kill
anywhere loses at most one step's work. Slurm: every step one sbatch job, --dependency=afterok on the one
before; a job whose marker exists exits 0 at once; rerunning the launch command resubmits from the first
step without a marker.
"""
