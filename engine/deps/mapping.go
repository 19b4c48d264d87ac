package deps

import (
	"regexp"
	"strings"
)

// importToPackage maps an import's first segment to the distribution that
// provides it, where the two names differ. Windmill's table
// (windmill-parser-py-imports) is the base, so a script resolves to the
// same packages here and there; the entries marked "millrun" are common
// imports Windmill leaves unmapped and that would otherwise install an
// unrelated or empty package.
var importToPackage = map[string]string{
	// Windmill's table.
	"psycopg2":            "psycopg2-binary",
	"psycopg":             "psycopg[binary, pool]",
	"yaml":                "PyYAML",
	"git":                 "GitPython",
	"shopify":             "ShopifyAPI",
	"seleniumwire":        "selenium-wire",
	"openbb_terminal":     "openbb[all]",
	"riskfolio":           "riskfolio-lib",
	"smb":                 "pysmb",
	"PIL":                 "Pillow",
	"googleapiclient":     "google-api-python-client",
	"googlecloudbigquery": "google-cloud-bigquery",
	"dateutil":            "python-dateutil",
	"mailparser":          "mail-parser",
	"mailparser_reply":    "mail-parser-reply",
	"gitlab":              "python-gitlab",
	"smbclient":           "smbprotocol",
	"playhouse":           "peewee",
	"dns":                 "dnspython",
	"msoffcrypto":         "msoffcrypto-tool",
	"tabula":              "tabula-py",
	"shapefile":           "pyshp",
	"sklearn":             "scikit-learn",
	"umap":                "umap-learn",
	"cv2":                 "opencv-python",
	"atlassian":           "atlassian-python-api",
	"mysql":               "mysql-connector-python",
	"tenable":             "pytenable",
	"ns1":                 "ns1-python",
	"pymsql":              "PyMySQL",
	"haystack":            "haystack-ai",
	"github":              "PyGithub",
	"ldap":                "python-ldap",
	"opensearchpy":        "opensearch-py",
	"lokalise":            "python-lokalise-api",
	"msgraph":             "msgraph-sdk",
	"pythonjsonlogger":    "python-json-logger",
	"newspaper":           "newspaper4k",
	"socks":               "PySocks",
	"taiga":               "python-taiga",
	"docx":                "python-docx",
	"vt":                  "vt-py",

	// millrun: Windmill installs the PyPI shim "bs4", which only depends
	// on beautifulsoup4; naming the real package saves a download and
	// leaves the lock as readable as Windmill's.
	"bs4":                "beautifulsoup4",
	"dotenv":             "python-dotenv",
	"jwt":                "PyJWT",
	"Crypto":             "pycryptodome",
	"Cryptodome":         "pycryptodomex",
	"OpenSSL":            "pyOpenSSL",
	"nacl":               "PyNaCl",
	"jose":               "python-jose",
	"magic":              "python-magic",
	"multipart":          "python-multipart",
	"slugify":            "python-slugify",
	"telegram":           "python-telegram-bot",
	"discord":            "discord.py",
	"serial":             "pyserial",
	"usb":                "pyusb",
	"zmq":                "pyzmq",
	"attr":               "attrs",
	"fitz":               "PyMuPDF",
	"pptx":               "python-pptx",
	"skimage":            "scikit-image",
	"Bio":                "biopython",
	"websocket":          "websocket-client",
	"MySQLdb":            "mysqlclient",
	"bson":               "pymongo",
	"gridfs":             "pymongo",
	"kafka":              "kafka-python",
	"faiss":              "faiss-cpu",
	"speech_recognition": "SpeechRecognition",
	"pkg_resources":      "setuptools",
	"win32api":           "pywin32",
	"win32con":           "pywin32",
	"win32com":           "pywin32",
	"gi":                 "PyGObject",
	"markdown_it":        "markdown-it-py",
	"ruamel":             "ruamel.yaml",
	"pythoncom":          "pywin32",
	"pywintypes":         "pywin32",
	"grpc":               "grpcio",
	"hubspot":            "hubspot-api-client",
	"airtable":           "airtable-python-wrapper",
	"trello":             "py-trello",
}

// fullImportToPackage maps a dotted module, or the module a dotted import
// starts with, to its distribution. Namespace packages (google.*, azure.*)
// share a first segment across many distributions, so the first segment
// alone names the wrong one.
var fullImportToPackage = map[string]string{
	"google.auth":                 "google-auth",
	"google.oauth2":               "google-auth",
	"google.auth_oauthlib":        "google-auth-oauthlib",
	"google.protobuf":             "protobuf",
	"google.api_core":             "google-api-core",
	"google.genai":                "google-genai",
	"google.generativeai":         "google-generativeai",
	"google.cloud.sql.connector":  "cloud-sql-python-connector",
	"google.cloud":                "google-cloud-core",
	"azure.identity":              "azure-identity",
	"azure.core":                  "azure-core",
	"azure.cosmos":                "azure-cosmos",
	"azure.functions":             "azure-functions",
	"azure.keyvault.secrets":      "azure-keyvault-secrets",
	"azure.keyvault.keys":         "azure-keyvault-keys",
	"azure.keyvault.certificates": "azure-keyvault-certificates",
	"azure.storage.blob":          "azure-storage-blob",
	"azure.storage.queue":         "azure-storage-queue",
	"azure.storage.fileshare":     "azure-storage-file-share",
	"azure.storage.filedatalake":  "azure-storage-file-datalake",
	"azure.servicebus":            "azure-servicebus",
	"azure.eventhub":              "azure-eventhub",
	"azure.data.tables":           "azure-data-tables",
	"azure.ai.openai":             "openai",
	"snowflake.connector":         "snowflake-connector-python",
	"ruamel.yaml":                 "ruamel.yaml",
}

// namespaceRules turn a module under a vendor namespace into its
// distribution: google.cloud.bigquery_storage → google-cloud-bigquery-storage,
// azure.mgmt.compute → azure-mgmt-compute (Windmill lists about 325 such
// pairs one by one; they all follow these two rules). A trailing API
// version (pubsub_v1, firestore_v1beta1) is part of the same distribution.
var namespaceRules = []struct{ prefix, dist string }{
	{"google.cloud.", "google-cloud-"},
	{"azure.mgmt.", "azure-mgmt-"},
}

var apiVersionSuffix = regexp.MustCompile(`_v\d+(?:p\d+)?(?:alpha\d*|beta\d*)?$`)

// packageFor names the distribution for a dotted, absolute import, and
// says whether a table entry (rather than the module's own name) chose it.
func packageFor(module string) (dist string, mapped bool) {
	if d := fullPackageFor(module); d != "" {
		return d, true
	}
	root, _, _ := strings.Cut(module, ".")
	if d, ok := importToPackage[root]; ok {
		return d, d != root
	}
	// Windmill writes the root with '-' for '_'; PEP 503 treats the two
	// alike, so either spelling finds the same project.
	return strings.ReplaceAll(root, "_", "-"), false
}

// fullPackageFor looks a dotted module up in the full table (itself, then
// each parent down to two segments) and the namespace rules; "" when none
// applies.
func fullPackageFor(module string) string {
	for _, r := range namespaceRules {
		if rest, ok := strings.CutPrefix(module, r.prefix); ok && rest != "" {
			// A longer entry (google.cloud.sql.connector) is its own
			// distribution.
			if d, key := fullTableLookup(module); d != "" && len(key) > len(r.prefix) {
				return d
			}
			svc, _, _ := strings.Cut(rest, ".")
			svc = apiVersionSuffix.ReplaceAllString(svc, "")
			return r.dist + strings.ReplaceAll(svc, "_", "-")
		}
	}
	d, _ := fullTableLookup(module)
	return d
}

// fullTableLookup finds the longest entry that is the module or one of
// its parents, and returns it with its key.
func fullTableLookup(module string) (dist, key string) {
	m := module
	for {
		if d, ok := fullImportToPackage[m]; ok {
			return d, m
		}
		i := strings.LastIndexByte(m, '.')
		if i < 0 {
			return "", ""
		}
		m = m[:i]
	}
}

// isNamespace says whether `from <module> import x` names a vendor
// namespace rather than a package, so that x is what picks the
// distribution (from google.cloud import bigquery → google-cloud-bigquery,
// where Windmill would install the unrelated PyPI project "google").
func isNamespace(module string) bool {
	switch module {
	case "google", "google.cloud", "azure", "azure.mgmt", "azure.storage", "azure.keyvault", "azure.data", "azure.ai":
		return true
	}
	return false
}
