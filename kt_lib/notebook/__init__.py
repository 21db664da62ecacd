"""What the notebooks use around the subject: recording results (`record`), figures (`plots`), widgets
(`widgets`) and cached sweeps (`sweeps`)."""

from kt_lib.notebook.record import (
    data_source,
    frame,
    read_results,
    record,
    show,
    show_config,
    smoke_mode,
)

__all__ = ["data_source", "frame", "read_results", "record", "show", "show_config", "smoke_mode"]
