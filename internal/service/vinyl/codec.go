package vinyl

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/embly/embly/internal/store"
)

// jsonOut writes records as protojson with the .proto's field names and
// every field, set or not, so a guest's JSON decoder sees a stable shape.
var jsonOut = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// Decode reads a record of type typ sent in format.
func (db *Database) Decode(typ string, format byte, p []byte) (*dynamicpb.Message, *store.RecordType, error) {
	md, rt := db.Messages[typ], db.Schema.Type(typ)
	if md == nil || rt == nil {
		return nil, nil, fmt.Errorf("%w: no record type %q in vinyl database %q", store.ErrInvalid, typ, db.Name)
	}
	m := dynamicpb.NewMessage(md)
	var err error
	if format == FormatJSON {
		err = protojson.UnmarshalOptions{}.Unmarshal(p, m)
	} else {
		err = proto.Unmarshal(p, m)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: not a %s in %s: %v", store.ErrInvalid, md.FullName(), formatName(format), err)
	}
	return m, rt, nil
}

// Record returns what the store keeps of m: its column values and its
// encoding (deterministic, so equal records are equal bytes).
func Record(rt *store.RecordType, m protoreflect.Message) (store.Record, error) {
	fields := m.Descriptor().Fields()
	values := make(map[string]any, len(rt.Fields))
	for _, f := range rt.Fields {
		fd := fields.ByName(protoreflect.Name(f.Name))
		if fd.HasPresence() && !m.Has(fd) && f.Nullable {
			values[f.Name] = nil
			continue
		}
		values[f.Name] = goValue(fd, m.Get(fd))
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
	if err != nil {
		return store.Record{}, fmt.Errorf("%w: %v", store.ErrInvalid, err)
	}
	return store.Record{Values: values, Data: data}, nil
}

func goValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.EnumKind:
		return int64(v.Enum())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64(v.Uint())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return v.Bytes()
	}
	return nil
}

// protoValue converts a key from the store to the field's value.
func protoValue(fd protoreflect.FieldDescriptor, key any) protoreflect.Value {
	switch k := key.(type) {
	case int64:
		switch fd.Kind() {
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
			return protoreflect.ValueOfInt32(int32(k))
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			return protoreflect.ValueOfUint32(uint32(k))
		case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			return protoreflect.ValueOfUint64(uint64(k))
		case protoreflect.EnumKind:
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(k))
		}
		return protoreflect.ValueOfInt64(k)
	case string:
		return protoreflect.ValueOfString(k)
	case []byte:
		return protoreflect.ValueOfBytes(k)
	}
	return protoreflect.Value{}
}

// keyBytes is the protobuf encoding of a message of type rt whose only set
// field is its primary key. Appended to a stored record it sets the key
// (the last value of a field wins), which an auto-assigned key lacks.
func (db *Database) keyBytes(rt *store.RecordType, key any) []byte {
	md := db.Messages[rt.Name]
	fd := md.Fields().ByName(protoreflect.Name(rt.PrimaryKey))
	m := dynamicpb.NewMessage(md)
	m.Set(fd, protoValue(fd, key))
	b, _ := proto.Marshal(m)
	return b
}

// Encode returns a stored record, with its key, in format.
func (db *Database) Encode(rt *store.RecordType, rec store.Record, format byte) ([]byte, error) {
	data := append(rec.Data[:len(rec.Data):len(rec.Data)], db.keyBytes(rt, rec.Key)...)
	if format == FormatBinary {
		return data, nil
	}
	m := dynamicpb.NewMessage(db.Messages[rt.Name])
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("a stored %s does not decode: %w", rt.Name, err)
	}
	return jsonOut.Marshal(m)
}

// KeyJSON writes a key as the JSON value the protocol carries.
func KeyJSON(key any) []byte {
	b, _ := json.Marshal(key)
	return b
}

func formatName(f byte) string {
	if f == FormatJSON {
		return "JSON"
	}
	return "protobuf binary"
}
