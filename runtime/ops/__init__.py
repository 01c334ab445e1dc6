"""Op families, each module defining its ops once (impl, abstract_eval, vjp, emit, properties)."""
