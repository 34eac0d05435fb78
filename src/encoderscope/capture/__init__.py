"""encoderscope.capture"""
