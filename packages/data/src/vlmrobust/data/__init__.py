"""vlmrobust.data: readers of official dataset formats, MCQ builder, DataModules, the procedural world."""
