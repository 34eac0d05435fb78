"""encoderscope.lwta"""
