"""Traces: what each event did at the stages it reached, and why a playbook did or did not run (the console's
运行记录 page). A `Recorder` rides on the event's Turn; each playbook run, command, moderation rule or window it
reaches gets a `Run` (the RunContext carries it), whose steps the runner fills; the engine writes them in the
event's own transaction (bot/traces/write.py), so a rolled-back event leaves no trace."""

from bot.traces.recorder import Recorder, Run, seen

__all__ = ["Recorder", "Run", "seen"]
