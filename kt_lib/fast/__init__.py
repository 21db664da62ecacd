"""Speed: exact text trimming (`textenc`), the compact token vocabulary (`vocab`), the whole-step CUDA graph
(`cudagraph`), and the `kt bench` measurements (`timing`, `step_variants`, `bench`, `bench_eval`)."""
