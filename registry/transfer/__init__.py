"""Moving data in and out in bulk: safe spreadsheet reading, streamed exports."""
