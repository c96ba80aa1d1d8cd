"""What each chapter computes: one function per table or figure, on the chapter's panel."""
