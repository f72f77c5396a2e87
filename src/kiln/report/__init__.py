"""HTML reports (profile now; training, evaluation and drift later), each one
self-contained page built with `kiln.report.html`."""
