"""Our own date formats, where Django's for a language are not what our pages want
(settings.FORMAT_MODULE_PATH): Django's own for every language and format not named here."""
