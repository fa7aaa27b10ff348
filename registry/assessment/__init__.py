"""Assessment (考核), commendation and summons (表扬激励、约谈), and the settings page."""
