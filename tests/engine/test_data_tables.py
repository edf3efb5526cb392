"""CSV/TSV reading: header and delimiter detection, labels, and every bad input named by file,
line (1-based, header included) and column."""
import numpy as np
import pytest

from engine.data import DataError, read_csv, read_table


def write(tmp_path, text, name="t.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_header_is_detected_and_features_chosen(tmp_path):
    p = write(tmp_path, "id,height,weight,kind\n1,1.5,60,a\n2,1.25,80,b\n")
    x, y, info = read_csv(p, label="kind", features=["height", 2])
    assert x.tolist() == [[1.5, 60], [1.25, 80]] and x.dtype == np.float32
    assert info["feature_names"] == ["height", "weight"] and info["header"]
    assert info["lines"].tolist() == [2, 3] and y.tolist() == [0, 1]
    x, y, info = read_csv(p, label=0, features=["height", "weight"])   # label by index
    assert y.dtype == np.int64 and y.tolist() == [1, 2] and x.shape == (2, 2)


def test_no_header_and_delimiters(tmp_path):
    x, y, info = read_csv(write(tmp_path, "1;2;0.5\n3;4;1.5\n", "s.csv"))
    assert info["delimiter"] == ";" and not info["header"]
    assert x.tolist() == [[1, 2], [3, 4]] and y.dtype == np.float32 and y.tolist() == [0.5, 1.5]
    x, _, info = read_csv(write(tmp_path, "a\tb\tc\n1\t2\t3\n", "t.tsv"))
    assert info["delimiter"] == "\t" and x.tolist() == [[1, 2]]
    x, _, _ = read_csv(write(tmp_path, "1|2|3\n", "p.txt"), delimiter="pipe", label=None)
    assert x.tolist() == [[1, 2, 3]]
    x, _, _ = read_csv(write(tmp_path, "5,6,7\n8,9,1\n"), header=True)
    assert x.tolist() == [[8, 9]]


def test_all_text_header_is_detected_by_its_names(tmp_path):
    table = read_table(write(tmp_path, "text,label\nhello there,pos\nbad,neg\n"))
    assert table.has_header and table.names == ["text", "label"] and table.lines == [2, 3]


def test_text_labels_become_classes_and_numeric_classes_keep_value_order(tmp_path):
    p = write(tmp_path, "a,b,y\n1,2,10\n3,4,9\n5,6,10\n")
    _, y, info = read_csv(p, label="y", label_type="categorical")
    assert info["class_names"] == ["9", "10"] and y.tolist() == [1, 0, 1]
    _, y, info = read_csv(p, label="y", label_type="numeric")
    assert y.dtype == np.float32 and info["class_names"] is None
    with pytest.raises(DataError, match="label_type"):
        read_csv(p, label="y", label_type="ordinal")


def test_quoted_fields_keep_line_numbers(tmp_path):
    p = write(tmp_path, 'note,v,y\n"two\nlines",1,0\n"ok",x,1\n')
    with pytest.raises(DataError) as e:
        read_csv(p, label="y", features=["v"])
    assert e.value.line == 4 and e.value.column == "v"


def test_u0085_and_crlf_stay_inside_fields(tmp_path):
    p = write(tmp_path, "f,y\r\n1,caf\u00e9\u0085 bar\r\n2,ok\r\n")
    x, y, info = read_csv(p, label="y")
    assert x.tolist() == [[1], [2]] and info["class_names"] == ["caf\u00e9\u0085 bar", "ok"]


def test_latin1_file_is_read(tmp_path):
    p = write(tmp_path, "f,y\n1,caf\u00e9\n", encoding="latin-1")
    assert read_csv(p, label="y")[2]["class_names"] == ["caf\u00e9"]


@pytest.mark.parametrize("text,line,column,msg", [
    ("a,b,label\n1,2,0\n3,4\n", 3, None, "has 2 fields, the header has 3"),
    ("a,b,label\n1,2,0\n\n3,x,1\n", 4, "b", "'x' is not a number"),
    ("a,b,label\n1,2,0\n3,4,\n", 3, "label", "missing label"),
    ("a,b,label\n1,1e999,0\n", 2, "b", "not a finite number"),
    ("a,b,label\n1,NA,0\n2,,1\n3,?,0\n4,nan,1\n", 2, "b", r"4 missing in the file: line 2 'b', "
                                                       r"line 3 'b', line 4 'b', …"),
])
def test_errors_name_file_line_and_column(tmp_path, text, line, column, msg):
    p = write(tmp_path, text, "bad.csv")
    with pytest.raises(DataError, match=msg) as e:
        read_csv(p, label="label")
    assert (e.value.file, e.value.line, e.value.column) == (p, line, column)
    assert str(e.value).startswith(f"{p}, line {line}")
    if column:
        assert f"column '{column}'" in str(e.value)


def test_missing_values_filled_when_asked(tmp_path):
    p = write(tmp_path, "a,b,y\n1,,0\n3,4,1\n5,8,1\n")
    x, _, info = read_csv(p, label="y", fill_missing=-1)
    assert x[0].tolist() == [1, -1] and info["missing_filled"] == 1
    x, _, _ = read_csv(p, label="y", fill_missing="mean")
    assert x[0].tolist() == [1, 6]
    with pytest.raises(DataError, match="fill_missing"):
        read_csv(p, label="y", fill_missing="zero")


@pytest.mark.parametrize("text,msg", [
    ("", "the file is empty"),
    ("\n  \n\n", "the file is empty"),
    ("a,b,label\n", "has a header but no data rows"),
    ("a,label\nx,1\n", "'x' is not a number"),
])
def test_empty_and_unusable_files(tmp_path, text, msg):
    with pytest.raises(DataError, match=msg):
        read_csv(write(tmp_path, text), label="label" if "label" in text else -1)


def test_bad_arguments_and_files(tmp_path):
    p = write(tmp_path, "a,b,y\n1,2,0\n")
    with pytest.raises(DataError, match="no column named 'z'; the columns are: a, b, y"):
        read_csv(p, label="z")
    with pytest.raises(DataError, match="column index 5 is out of range"):
        read_csv(p, label=5)
    with pytest.raises(DataError, match="both the label and a feature"):
        read_csv(p, label="a", features=["a", "b"])
    with pytest.raises(DataError, match="no feature columns"):
        read_csv(write(tmp_path, "y\n1\n", "one.csv"), label="y")
    with pytest.raises(DataError, match="binary file"):
        read_csv(write(tmp_path, "\x00\x01\x02", "b.csv"))
    with pytest.raises(DataError, match="cannot read the file"):
        read_csv(tmp_path / "missing.csv")
    assert read_csv(p, label=None)[1] is None


def test_classic_mac_line_endings_and_stray_carriage_returns(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b,label\r1,2,0\r3,4,1\r")
    x, y, _ = read_csv(path, label="label")
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]
    path = tmp_path / "cr.csv"
    path.write_bytes(b"a,b,label\n1,2,0\n3,4\r5,1\n")
    with pytest.raises(DataError, match=r"line 3: cannot be parsed: a carriage return") as e:
        read_csv(path, label="label")
    assert e.value.line == 3
