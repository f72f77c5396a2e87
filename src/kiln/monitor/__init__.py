"""Watching served traffic: has what the model sees drifted from what it learned on?"""
