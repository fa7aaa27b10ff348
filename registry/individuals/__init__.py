"""个人帮扶: citizens who help villages on their own (湘办〔2023〕17号 §六)."""
