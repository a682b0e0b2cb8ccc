"""The one resumable task runner both phases of a run use, and the phases chained around it.

``task.run_step`` is the loop (a task's share of the input, units of work on ``num_workers`` processes,
ordered absorption, a checkpoint after units, a completion marker at the end); ``steps`` defines what a
step reads, runs and keeps (the filter phase and the pack phase); ``phases.run_prep`` chains
tokenizer -> [filter -> dedup ->] pack -> merge by their completion markers.
"""
