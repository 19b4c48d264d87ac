package deps

import "testing"

// The import → distribution table: the names the issue lists, Windmill's
// own entries, the namespace rules, and unmapped imports.
func TestPackageFor(t *testing.T) {
	cases := []struct {
		module, dist string
		mapped       bool
	}{
		{"PIL", "Pillow", true},
		{"PIL.Image", "Pillow", true},
		{"yaml", "PyYAML", true},
		{"psycopg2", "psycopg2-binary", true},
		{"psycopg2.extras", "psycopg2-binary", true},
		{"psycopg", "psycopg[binary, pool]", true},
		{"bs4", "beautifulsoup4", true},
		{"dateutil.parser", "python-dateutil", true},
		{"dotenv", "python-dotenv", true},
		{"googleapiclient.discovery", "google-api-python-client", true},
		{"sklearn.linear_model", "scikit-learn", true},
		{"cv2", "opencv-python", true},
		{"github", "PyGithub", true},
		{"jwt", "PyJWT", true},
		// Not in the table: the import's own name, '_' written '-'.
		{"slack_sdk", "slack-sdk", false},
		{"slack_sdk.web", "slack-sdk", false},
		{"requests", "requests", false},
		{"wmill", "wmill", false},
		{"google_auth_oauthlib.flow", "google-auth-oauthlib", false},
		// Namespaces.
		{"google.cloud.bigquery", "google-cloud-bigquery", true},
		{"google.cloud.bigquery_storage", "google-cloud-bigquery-storage", true},
		{"google.cloud.kms_inventory", "google-cloud-kms-inventory", true},
		{"google.cloud.pubsub_v1", "google-cloud-pubsub", true},
		{"google.cloud.firestore_v1beta1", "google-cloud-firestore", true},
		{"google.cloud.storage.blob", "google-cloud-storage", true},
		{"google.cloud.sql.connector", "cloud-sql-python-connector", true},
		{"google.oauth2.service_account", "google-auth", true},
		{"google.protobuf.json_format", "protobuf", true},
		{"azure.mgmt.compute", "azure-mgmt-compute", true},
		{"azure.mgmt.resource.subscriptions", "azure-mgmt-resource", true},
		{"azure.storage.blob", "azure-storage-blob", true},
		{"azure.storage.filedatalake", "azure-storage-file-datalake", true},
		{"azure.identity", "azure-identity", true},
		{"snowflake.connector", "snowflake-connector-python", true},
	}
	for _, c := range cases {
		dist, mapped := packageFor(c.module)
		if dist != c.dist || mapped != c.mapped {
			t.Errorf("packageFor(%q) = %q, %v; want %q, %v", c.module, dist, mapped, c.dist, c.mapped)
		}
	}
}

// Every entry maps to a distinct-looking name, so an identity entry or a
// typo that normalizes to the import itself does not hide in the table.
func TestMappingTableEntriesDiffer(t *testing.T) {
	for imp, dist := range importToPackage {
		if dist == "" || NormalizeName(dist) == NormalizeName(imp) {
			t.Errorf("importToPackage[%q] = %q: an entry must change the name", imp, dist)
		}
	}
	for imp, dist := range fullImportToPackage {
		if dist == "" {
			t.Errorf("fullImportToPackage[%q] is empty", imp)
		}
	}
}
