"""People 帮扶干部 and their postings 选派."""
