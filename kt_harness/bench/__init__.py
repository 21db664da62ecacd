"""Speed: the whole-step CUDA graph (`cudagraph`), and the `kt bench` measurements (`timing`, `step_variants`,
`bench`, `bench_eval`, and `bench_run` with the official-style run it times, `official_run`)."""
