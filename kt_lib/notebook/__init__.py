"""What the notebooks use around the subject: their setup (`setup`), recording results (`record`), figures
(`plots`), widgets (`widgets`) and run comparisons (`leaderboard`). Learners reach them through `kt_lib`'s names."""
