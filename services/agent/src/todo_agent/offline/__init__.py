"""The offline model: a deterministic Agents SDK `Model` that understands task commands in
plain English (and basic Urdu), calls the real tools and summarises what they returned.

One call flows through one module per step: `model` (the SDK `Model`) → `conversation` (reads the
input items) → `grammar` (message → `commands.Command`, by the ordered rules of `english` or
`urdu`, built on `rules`, `phrases` and `dates`) → `planner` (the next tool calls, or the reply
from `replies`) → `stream` (output items and stream events).
"""
