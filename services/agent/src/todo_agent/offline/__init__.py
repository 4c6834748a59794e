"""The offline model: a deterministic Agents SDK `Model` that understands task commands in
plain English (and basic Urdu), calls the real tools and summarises what they returned."""
