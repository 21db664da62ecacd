"""What a request is compiled against and where real images come from: taxonomies (`taxonomy`, `wordnet`)
and real image folders (`realdata`, `datasets`); `kt_lib.sources` binds them into an experiment's data."""
