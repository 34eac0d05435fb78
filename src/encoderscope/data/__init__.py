"""encoderscope.data"""
