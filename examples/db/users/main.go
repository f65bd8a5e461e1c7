// Command users serves the User records of the vinyl database "main":
//
//	POST   /api/users             {"username","email","password"} -> 201 the user, 409 if taken
//	GET    /api/users/{id}        the user                        -> 200, or 404
//	GET    /api/users?email=E     the users with that email       -> 200, a JSON array
//	DELETE /api/users/{id}        remove the user                 -> 204
//
// A user's JSON never holds the password or its hash.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	embly "github.com/embly/embly/sdk/go"
)

var db = embly.Vinyl("main")

// record is a User as the database stores it (protojson: int64 as a string).
type record struct {
	ID           int64  `json:"id,string"`
	Username     string `json:"username"`
	Email        string `json:"email"`
	PasswordHash string `json:"password_hash"`
}

// user is a User as the API shows it.
type user struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

func (r record) public() user { return user{ID: r.ID, Username: r.Username, Email: r.Email} }

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/users", create)
	mux.HandleFunc("GET /api/users/{id}", get)
	mux.HandleFunc("GET /api/users", find)
	mux.HandleFunc("DELETE /api/users/{id}", del)
	embly.HandleHTTP(mux)
}

func create(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Email, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		http.Error(w, "send JSON like {\"username\":\"ada\",\"email\":\"ada@example.com\",\"password\":\"...\"}", http.StatusBadRequest)
		return
	}
	in.Email = strings.TrimSpace(strings.ToLower(in.Email))
	if in.Username == "" || !strings.Contains(in.Email, "@") || len(in.Password) < 6 {
		http.Error(w, "username, a valid email and a password of 6 or more characters are required", http.StatusBadRequest)
		return
	}
	rec := record{Username: in.Username, Email: in.Email, PasswordHash: hashPassword(in.Password)}
	if err := db.Insert("User", &rec); err != nil {
		var ve *embly.VinylError
		if errors.As(err, &ve) && errors.Is(err, embly.ErrConflict) {
			http.Error(w, ve.Field+" is taken", http.StatusConflict)
			return
		}
		fail(w, err)
		return
	}
	w.Header().Set("Location", "/api/users/"+strconv.FormatInt(rec.ID, 10))
	writeJSON(w, http.StatusCreated, rec.public())
}

func get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	var rec record
	if err := db.Load("User", id, &rec); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.public())
}

func find(w http.ResponseWriter, r *http.Request) {
	q := embly.Query{Limit: 100}
	if email := r.URL.Query().Get("email"); email != "" {
		q.Filter = embly.Eq("email", strings.ToLower(email))
	}
	var recs []record
	if err := db.Query("User", q, &recs); err != nil {
		fail(w, err)
		return
	}
	users := make([]user, 0, len(recs))
	for _, rec := range recs {
		users = append(users, rec.public())
	}
	writeJSON(w, http.StatusOK, users)
}

func del(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if _, err := db.Delete("User", id); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hashPassword salts and hashes a password. A real service would use a
// slow hash (bcrypt, argon2); the standard library has none, and the
// example builds offline with the standard library and the SDK only.
func hashPassword(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	sum := sha256.Sum256(append(salt, pw...))
	return hex.EncodeToString(salt) + ":" + hex.EncodeToString(sum[:])
}

func fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, embly.ErrNotFound):
		http.Error(w, "not found", http.StatusNotFound)
	case errors.Is(err, embly.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
