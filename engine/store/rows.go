package store

import "database/sql"

// rowScanner is one row to read: a *sql.Row, or *sql.Rows at its current
// row, so one scan function serves a get and a list.
type rowScanner = interface{ Scan(...any) error }

// eachRow calls read for every row and closes rows; the first error,
// read's or the driver's, ends the reading and is returned.
func eachRow(rows *sql.Rows, read func(rowScanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := read(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// appendRows appends what scan reads from every row to out and closes
// rows. out is also the answer for no rows: nil, or an empty list where
// the caller must see [] rather than null.
func appendRows[T any](out []T, rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	err := eachRow(rows, func(r rowScanner) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
