"""The self-feedback loop (``launch job=loop``): ledger, completion markers, early stop, report.

Round state machine (proposal the driver and the Slurm chain follow; D = loop.dir, R = round):
  round 0:   train → evaluate → memorize → decide           (real data only)
  round R≥1: generate → prep → train → evaluate → memorize → decide
  generate  in: newest checkpoint (ledger's round R-1 "checkpoint"), real dataset (prefix prompts)
            out: D/round_R/generated/ — data_prep source=synthetic documents (provenance: checkpoint, step,
            weights hash, sampling params, round, prompt doc id); resumable by document index
  prep      in: D/round_R/generated/, real dataset (dedup against it), reference checkpoint (ppl band)
            out: D/round_R/synthetic/ — a Contract-2 dataset (pipeline=synthetic); its manifest holds
            kept docs/tokens, rejections by stage/reason and the discriminator's held-out accuracy
  train     in: D/run/ (one run continued; loop.train=scratch → D/round_R/run/), data.mix = real +
            synthetic of rounds 1..R (accumulate) or R only (replace) by launch.loop.mix, capped by
            data.max_synthetic_share (training re-checks it: train.data.synthetic_share)
            out: checkpoint step (R+1)·S; the marker payload records its path and synthetic share
  evaluate  in: that checkpoint, the real val split, fixed prompts + seed
            out: D/round_R/eval.json — real_val_bpb, distinct-1/2/3, TTR, tail mass, ppl stats
  memorize  in: that checkpoint, trained-on and val sequences, the manifest's canaries
            out: D/round_R/memorization.json (train.memorization's JSON object + canaries)
  decide    in: the step outputs above; writes round R into D/loop.json (replace-or-append, so a rerun
            gives the same file), runs launch.loop.stopping, redraws D/loop_report.html, logs W&B
            (group = loop, axis = round); sets "stopped" or moves on to round R+1
Markers: D/round_R/<step>.done (JSON payload), written atomically only after the step's outputs are
complete. The driver runs the first step without a marker; every step is itself resumable (data_prep
markers, training auto-resume, evaluation recomputed), so a kill anywhere loses at most one step's work.
Slurm: one sbatch job per step of a round, each --dependency=afterok:<previous> (--kill-on-invalid-dep=
yes so a failure cancels the rest); a job whose marker exists exits 0 at once. The decide job submits
round R+1's chain (unless stopped or R+1 = loop.rounds) and exits: no driver lives on the login node.
Rerunning the launch command resubmits from the first step without a marker.
"""
