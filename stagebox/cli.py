def main():
    print("stagebox")
