"""The untagged sweep: delete old untagged images that no image which stays needs, registry-wide, on a schedule.

settings (typed, from the environment), messages (the SQS repository and continuation messages, parsed at the edge),
plan (pure: keep-set, candidates, deletion order), report (what happened to every image), service (the planner that
fans repositories out, and the worker that sweeps one repository through ports), notice (the run's summary).
"""
