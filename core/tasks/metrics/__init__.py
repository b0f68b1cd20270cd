"""Each task's figures from predictions, with 95 % bootstrap intervals (:mod:`.bootstrap`) and the table of
figure names and headline figures (:mod:`.figures`)."""
