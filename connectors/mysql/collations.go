package mysql

// Code generated from MariaDB 10.11's information_schema.COLLATIONS and
// CHARACTER_SETS (SELECT ID, CHARACTER_SET_NAME, MAXLEN …); edit by
// regenerating, not by hand.

// collationCharset returns the character set of a MariaDB collation id (as
// TableMap events carry them per column) and its longest character in bytes.
func collationCharset(id uint64) (charset string, maxLen int, ok bool) {
	switch id {
	case 35, 90, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143,
		144, 145, 146, 147, 148, 149, 150, 151, 159, 640, 641, 642, 1059, 1114, 1152, 1174:
		return "ucs2", 2, true
	case 33, 83, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207,
		208, 209, 210, 211, 212, 213, 214, 215, 223, 576, 577, 578, 1057, 1107, 1216, 1238:
		return "utf8mb3", 3, true
	case 54, 55, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116,
		117, 118, 119, 120, 121, 122, 123, 124, 672, 673, 674, 1078, 1079, 1125, 1147:
		return "utf16", 4, true
	case 60, 61, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175,
		176, 177, 178, 179, 180, 181, 182, 183, 736, 737, 738, 1084, 1085, 1184, 1206:
		return "utf32", 4, true
	case 45, 46, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
		240, 241, 242, 243, 244, 245, 246, 247, 608, 609, 610, 1069, 1070, 1248, 1270:
		return "utf8mb4", 4, true
	case 5, 8, 15, 31, 47, 48, 49, 94, 1032, 1071:
		return "latin1", 1, true
	case 26, 34, 44, 66, 99, 1050, 1090:
		return "cp1250", 1, true
	case 14, 23, 50, 51, 52, 1074, 1075:
		return "cp1251", 1, true
	case 2, 9, 21, 27, 77, 1033, 1101:
		return "latin2", 1, true
	case 20, 41, 42, 79, 1065, 1103:
		return "latin7", 1, true
	case 29, 58, 59, 1082, 1083:
		return "cp1257", 1, true
	case 32, 64, 1056, 1088:
		return "armscii8", 1, true
	case 11, 65, 1035, 1089:
		return "ascii", 1, true
	case 1, 84, 1025, 1108:
		return "big5", 2, true
	case 57, 67, 1081, 1091:
		return "cp1256", 1, true
	case 4, 80, 1028, 1104:
		return "cp850", 1, true
	case 40, 81, 1064, 1105:
		return "cp852", 1, true
	case 36, 68, 1060, 1092:
		return "cp866", 1, true
	case 95, 96, 1119, 1120:
		return "cp932", 2, true
	case 3, 69, 1027, 1093:
		return "dec8", 1, true
	case 97, 98, 1121, 1122:
		return "eucjpms", 3, true
	case 19, 85, 1043, 1109:
		return "euckr", 2, true
	case 24, 86, 1048, 1110:
		return "gb2312", 2, true
	case 28, 87, 1052, 1111:
		return "gbk", 2, true
	case 92, 93, 1116, 1117:
		return "geostd8", 1, true
	case 25, 70, 1049, 1094:
		return "greek", 1, true
	case 16, 71, 1040, 1095:
		return "hebrew", 1, true
	case 6, 72, 1030, 1096:
		return "hp8", 1, true
	case 37, 73, 1061, 1097:
		return "keybcs2", 1, true
	case 7, 74, 1031, 1098:
		return "koi8r", 1, true
	case 22, 75, 1046, 1099:
		return "koi8u", 1, true
	case 30, 78, 1054, 1102:
		return "latin5", 1, true
	case 38, 43, 1062, 1067:
		return "macce", 1, true
	case 39, 53, 1063, 1077:
		return "macroman", 1, true
	case 13, 88, 1037, 1112:
		return "sjis", 2, true
	case 10, 82, 1034, 1106:
		return "swe7", 1, true
	case 18, 89, 1042, 1113:
		return "tis620", 1, true
	case 12, 91, 1036, 1115:
		return "ujis", 3, true
	case 56, 62, 1080, 1086:
		return "utf16le", 4, true
	case 63:
		return "binary", 1, true
	}
	return "", 0, false
}
