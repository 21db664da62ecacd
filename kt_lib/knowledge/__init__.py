"""What a request is compiled against and where proxy images come from: taxonomies (`taxonomy`, `wordnet`),
data sources (`sources`) and real image folders (`realdata`, `datasets`)."""
